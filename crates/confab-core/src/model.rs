//! The domain model: what forums, threads, posts, authors and votes are, independent
//! of how they are stored or shown. Store crates map rows to these; the server maps
//! these to its JSON views.

use crate::id::{Id, LogicalShard};
use crate::input::{DisplayName, Email, Identifier, Message, Origin, Shortname, Title, Username, WebUrl};

/// Milliseconds since the Unix epoch (UTC). Kept as an integer end to end; only the
/// JSON edge formats it.
pub type UnixMs = i64;

/// How a forum treats posts. Every field has a default, so stored policies stay
/// readable as fields are added.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ForumPolicy {
    /// Guests (no account) may post.
    pub allow_guests: bool,
    /// Guests must give an email address.
    pub require_guest_email: bool,
    /// New posts wait in `pending` until a moderator approves them.
    pub premoderate: bool,
    /// Who may vote on posts: every reader, signed-in readers only (accounts and SSO
    /// users), or nobody.
    pub voting: VotePolicy,
    /// How long a signed SSO payload is accepted after its timestamp, in seconds.
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub sso_max_age_secs: u64,
    /// What happens to an account's posts here when it is deleted: kept and signed
    /// "Deleted account", or removed (text erased).
    pub on_account_delete: AccountDeletion,
    /// When the spam filter runs: after a post is published (it leaves the page if
    /// judged spam), before (it shows once judged clean), or never.
    pub spam_filter: SpamFilter,
    /// Also ask the operator's Akismet-compatible service (when one is configured).
    pub akismet: bool,
    /// Guests' posts wait for a moderator (signed-in readers post at once).
    pub premoderate_guests: bool,
    /// An author's posts wait until a moderator has approved one of theirs in this forum.
    pub premoderate_first_posts: bool,
    /// Posts with a link in them wait for a moderator.
    pub premoderate_links: bool,
    /// Words and phrases not wanted here; `*` stands for any letters (`spam*`,
    /// `*casino*`, `buy * now`). Matched case-insensitively on whole words; stored trimmed
    /// and lowercased. At most 500, each at most 100 characters.
    #[cfg_attr(feature = "openapi", schema(max_items = 500))]
    pub restricted_words: Vec<String>,
    /// Author names not wanted here, with the same wildcards (the same limits).
    #[cfg_attr(feature = "openapi", schema(max_items = 500))]
    pub restricted_names: Vec<String>,
    /// What a post with a restricted word or name gets: held for review, or refused
    /// (422, reason `restricted_word` or `restricted_name`).
    pub restricted_action: RestrictedAction,
    /// Distinct readers' flags that send an approved post to review (0: flags never hide).
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1000))]
    pub flag_threshold: u32,
    /// Threads stop taking posts this many days after they were created (0: never).
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 36500))]
    pub auto_close_days: u32,
    /// The whole forum takes no posts, edits, votes or flags (403 `read_only`); reading
    /// goes on.
    pub read_only: bool,
}

/// What a forum does with a post that uses a restricted word or name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RestrictedAction {
    /// The post waits for a moderator, who sees why.
    #[default]
    Hold,
    /// The post is refused with an error that names the rule.
    Reject,
}

/// When a forum's spam filter runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SpamFilter {
    /// Posts show at once; within seconds the filter may hold them or mark them spam.
    #[default]
    After,
    /// Posts wait (pending) until the filter has judged them clean.
    Before,
    /// No filtering.
    Off,
}

/// A forum's choice for the posts of a deleted account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AccountDeletion {
    /// The posts stay, signed "Deleted account" (the discussion keeps its sense).
    #[default]
    Anonymize,
    /// The posts are removed: text erased, a placeholder where replies hang below.
    Remove,
}

impl Default for ForumPolicy {
    fn default() -> Self {
        ForumPolicy {
            allow_guests: true,
            require_guest_email: false,
            premoderate: false,
            voting: VotePolicy::Anyone,
            // Disqus accepts a remote_auth_s3 payload for two hours.
            sso_max_age_secs: 2 * 3600,
            on_account_delete: AccountDeletion::Anonymize,
            spam_filter: SpamFilter::After,
            akismet: false,
            premoderate_guests: false,
            premoderate_first_posts: false,
            premoderate_links: false,
            restricted_words: Vec::new(),
            restricted_names: Vec::new(),
            restricted_action: RestrictedAction::Hold,
            flag_threshold: 3,
            auto_close_days: 0,
            read_only: false,
        }
    }
}

impl ForumPolicy {
    /// Whether any rule may hold or refuse a post (so whether the poster's role matters).
    pub fn has_rules(&self) -> bool {
        self.premoderate
            || self.premoderate_guests
            || self.premoderate_first_posts
            || self.premoderate_links
            || !self.restricted_words.is_empty()
            || !self.restricted_names.is_empty()
    }

    /// Whether a thread created at `created_at` still takes posts at `now`.
    pub fn auto_closed(&self, created_at: UnixMs, now: UnixMs) -> bool {
        self.auto_close_days > 0 && now - created_at >= i64::from(self.auto_close_days) * 86_400_000
    }
}

/// Who may vote in a forum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum VotePolicy {
    /// Every reader (guests vote with a token the widget keeps).
    #[default]
    Anyone,
    /// Only signed-in accounts: one vote per account, not per browser.
    Accounts,
    /// Nobody: votes are refused and the widget hides the buttons.
    Off,
}

/// A site: the tenant. Global data.
#[derive(Debug, Clone, PartialEq)]
pub struct Forum {
    pub id: Id,
    pub shortname: Shortname,
    pub name: DisplayName,
    /// Origins whose pages may write through the embed (enforced by the identity issue).
    pub origins: Vec<Origin>,
    pub policy: ForumPolicy,
    /// The logical shard holding this forum's threads, posts and votes.
    pub shard: LogicalShard,
    pub created_at: UnixMs,
}

impl Forum {
    /// Whether `typed` confirms this forum's deletion: its shortname, exactly (spaces
    /// around it aside). The one check behind the API, the dashboard and the CLI.
    pub fn deletion_confirmed(&self, typed: &str) -> bool {
        typed.trim() == self.shortname.as_str()
    }
}

#[derive(Debug, Clone)]
pub struct NewForum {
    pub shortname: Shortname,
    pub name: DisplayName,
    pub origins: Vec<Origin>,
    pub policy: ForumPolicy,
    /// An account that owns the forum from the start (written in the same transaction).
    pub owner: Option<Id>,
}

/// Changes to a forum's settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ForumUpdate {
    pub name: Option<DisplayName>,
    pub origins: Option<Vec<Origin>>,
    pub policy: Option<ForumPolicy>,
}

/// What an account may do in one forum. Ordered: each role can do what the ones below it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A reader the forum recognises (for members-only policies).
    Member,
    /// Posts skip pre-moderation.
    Trusted,
    /// Moderates posts and threads.
    Moderator,
    /// Settings, keys, roles: everything in the forum.
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Trusted => "trusted",
            Role::Moderator => "moderator",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "member" => Role::Member,
            "trusted" => Role::Trusted,
            "moderator" => Role::Moderator,
            "owner" => Role::Owner,
            _ => return None,
        })
    }
}

/// One discussion, attached to one page of a site.
#[derive(Debug, Clone, PartialEq)]
pub struct Thread {
    pub id: Id,
    pub forum_id: Id,
    pub identifier: Identifier,
    pub url: Option<WebUrl>,
    pub title: Option<Title>,
    pub closed: bool,
    /// Approved posts in the thread (what a comment count shows).
    pub posts: i64,
    /// A post moderators pinned to the top of the thread.
    pub pinned: Option<Id>,
    pub created_at: UnixMs,
    /// Moves forward with every change its pages show (posts written, edited,
    /// moderated or anonymised; closing, pinning), by the store's triggers: cached pages
    /// carry the version they were read at, and an older one never replaces a newer one.
    /// Votes do not move it (their counts catch up with the cache's refresh).
    pub version: u64,
}

/// What a client says about the page a thread belongs to.
#[derive(Debug, Clone)]
pub struct ThreadSpec {
    pub identifier: Identifier,
    pub url: Option<WebUrl>,
    pub title: Option<Title>,
}

/// How a thread is named in a look-up.
#[derive(Debug, Clone)]
pub enum ThreadKey {
    Identifier(Identifier),
    Url(WebUrl),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PostState {
    Pending,
    Approved,
    Spam,
    Deleted,
    /// Written by a shadow-banned author: their own reads show it as approved, nobody
    /// else sees it, and it counts nowhere.
    Shadow,
}

impl PostState {
    pub fn code(self) -> i64 {
        match self {
            PostState::Pending => 0,
            PostState::Approved => 1,
            PostState::Spam => 2,
            PostState::Deleted => 3,
            PostState::Shadow => 4,
        }
    }

    pub fn from_code(c: i64) -> Option<Self> {
        Some(match c {
            0 => PostState::Pending,
            1 => PostState::Approved,
            2 => PostState::Spam,
            3 => PostState::Deleted,
            4 => PostState::Shadow,
            _ => return None,
        })
    }
}

/// Who wrote a post: a guest, an account or an SSO identity, all kinds of the same
/// author record, so posts never need migrating.
#[derive(Debug, Clone, PartialEq)]
pub struct Author {
    pub id: Id,
    pub kind: AuthorKind,
    pub name: DisplayName,
    /// Private: never shown; only [`Email::avatar_hash`] leaves the server.
    pub email: Option<Email>,
    pub url: Option<WebUrl>,
    /// An avatar image the author's site supplied (SSO); else the email's hash is used.
    pub avatar_url: Option<WebUrl>,
    /// For an SSO author: the forum whose site vouches for them, and the site's id.
    pub sso: Option<(Id, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AuthorKind {
    Guest,
    /// A local account; the author row shares the account's id.
    Account,
    /// A user of the forum's own site, signed in through SSO.
    Sso,
}

/// Who a new post is by: a guest's details, or a signed-in account.
#[derive(Debug, Clone)]
pub enum PostAuthor {
    Guest(GuestAuthor),
    Account(Id),
    /// A site's user, vouched for by an SSO payload signed with this forum's key.
    Sso(crate::sso::SsoUser),
}

/// A forum's API keys.
#[derive(Clone, PartialEq, Eq)]
pub struct ForumKeys {
    /// Identifies the forum in embeds (`this.page.api_key`); not a secret.
    pub public_key: String,
    /// Signs SSO payloads; authenticates the site's server. Never sent to browsers.
    pub secret_key: String,
    pub rotated_at: UnixMs,
}

impl std::fmt::Debug for ForumKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForumKeys").field("public_key", &self.public_key).finish_non_exhaustive()
    }
}

impl ForumKeys {
    /// A fresh pair: `pk_` + 32 hex digits, `sk_` + 64 hex digits.
    pub fn generate(now: UnixMs) -> Self {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let secret = crate::secret::random_key();
        ForumKeys {
            public_key: format!("pk_{}", hex(&crate::secret::random_key()[..16])),
            secret_key: format!("sk_{}", hex(&secret)),
            rotated_at: now,
        }
    }
}

/// A local account (global data). Its author row has the same id, so posts by the
/// account name it like any author.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: Id,
    pub username: Username,
    /// Private to the account holder; other users see only the avatar hash.
    pub email: Email,
    pub email_verified: bool,
    /// A global administrator: every power in every forum.
    pub is_admin: bool,
    pub created_at: UnixMs,
}

/// A new account, its password already hashed.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: Username,
    pub email: Email,
    /// A PHC string (Argon2id).
    pub password_hash: String,
}

/// A signed-in device: a bearer token's stored form, with its lifetime.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Id,
    pub account_id: Id,
    pub created_at: UnixMs,
    pub expires_at: UnixMs,
    /// A reader credential for this forum alone (what a site embedding the widget is
    /// handed): post, vote, edit one's own, subscribe, flag there; nothing else. `None`
    /// for the account's own sessions (API clients, Confab's pages).
    pub forum: Option<Id>,
}

/// What a one-time emailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Proves the address given at sign-up.
    Verify,
    /// Sets a new password (and so also proves the address).
    Reset,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Verify => "verify",
            LinkPurpose::Reset => "reset",
        }
    }
}

#[derive(Debug, Clone)]
pub struct GuestAuthor {
    pub name: DisplayName,
    pub email: Option<Email>,
    pub url: Option<WebUrl>,
}

/// Deepest reply accepted (roots are depth 0). Far beyond any reading interface (Disqus
/// shows five levels), and it bounds what one reply costs: its path (8 bytes a level), the
/// ancestors whose counters it moves (a reply at depth 1,000 took ~50 ms to write, at 256
/// a few), and the length of a replies cursor (see [`crate::cursor::MAX_CURSOR_CHARS`]).
pub const MAX_DEPTH: u32 = 256;

/// A comment. Roots have no parent, `depth` 0 and `root_id == id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub id: Id,
    pub forum_id: Id,
    pub thread_id: Id,
    pub parent_id: Option<Id>,
    pub root_id: Id,
    pub depth: u32,
    /// The ids of the post's ancestors and itself, 8 big-endian bytes each: sorting by
    /// path gives tree order (depth first, siblings oldest first), and a node's
    /// descendants are exactly the paths that start with its path.
    pub path: Vec<u8>,
    pub author_id: Id,
    pub message: Message,
    /// `message` rendered and sanitised at write time.
    pub html: String,
    pub state: PostState,
    pub likes: i64,
    pub dislikes: i64,
    /// Approved posts below this one, at any depth.
    pub descendants: i64,
    /// Moderators marked it as a comment worth reading.
    pub highlighted: bool,
    /// Readers' flags since a moderator last approved it.
    pub flags: i64,
    pub created_at: UnixMs,
    pub edited_at: Option<UnixMs>,
}

impl Post {
    pub fn points(&self) -> i64 {
        self.likes - self.dislikes
    }

    /// Whether the post has a place in public pages: approved, or deleted but still
    /// holding up visible replies (shown as a placeholder so the tree stays whole).
    pub fn is_listed(&self) -> bool {
        self.state == PostState::Approved || (self.state == PostState::Deleted && self.descendants > 0)
    }

    /// The path of a child of this post.
    pub fn child_path(&self, child: Id) -> Vec<u8> {
        let mut p = Vec::with_capacity(self.path.len() + 8);
        p.extend_from_slice(&self.path);
        p.extend_from_slice(&child.to_be_bytes());
        p
    }
}

/// The order of top-level posts in a thread page. Replies are always in tree order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    #[default]
    Newest,
    Oldest,
    /// Wilson lower bound of the up-vote share ([`crate::rank::best_score`]).
    Best,
    /// Points decayed by age ([`crate::rank::hot_score`]).
    Hot,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Sort::Newest, Sort::Oldest, Sort::Best, Sort::Hot];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "newest" => Sort::Newest,
            "oldest" => Sort::Oldest,
            "best" => Sort::Best,
            "hot" => Sort::Hot,
            _ => return None,
        })
    }
}

/// A reader's vote on a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteValue {
    Down,
    Clear,
    Up,
}

impl VoteValue {
    pub fn from_i64(v: i64) -> Option<Self> {
        Some(match v {
            -1 => VoteValue::Down,
            0 => VoteValue::Clear,
            1 => VoteValue::Up,
            _ => return None,
        })
    }

    pub fn as_i64(self) -> i64 {
        match self {
            VoteValue::Down => -1,
            VoteValue::Clear => 0,
            VoteValue::Up => 1,
        }
    }

    /// (likes, dislikes) this vote contributes.
    pub fn tallies(self) -> (i64, i64) {
        match self {
            VoteValue::Down => (0, 1),
            VoteValue::Clear => (0, 0),
            VoteValue::Up => (1, 0),
        }
    }
}

/// A post to be written, already parsed and rendered.
#[derive(Debug, Clone)]
pub struct NewPost {
    pub thread: ThreadSpec,
    pub parent_id: Option<Id>,
    pub author: PostAuthor,
    pub message: Message,
    pub html: String,
    pub state: PostState,
    /// Mail the author about replies to this post.
    pub notify: bool,
    /// Screen the post after it is written (spam filter, then notifications); `None`
    /// for posts that need no screening (imports, the demo).
    pub screen: Option<crate::jobs::Screen>,
    /// Why the forum's rules hold the post (`state` is then pending), for the log.
    pub held: Option<String>,
    /// Hold the post (pending) unless one of its author's posts in the forum is
    /// already approved: the "first posts wait" rule, decided in the write.
    pub hold_first_post: bool,
    /// A keyed hash of the poster's network (/24 or /64), never the address: lets
    /// moderators find posts from the same network.
    pub network: Option<[u8; 32]>,
    /// Subscribe this (confirmed) address to the thread, in the post's own transaction:
    /// there is never a post whose author asked to follow the thread and does not.
    pub subscribe: Option<crate::input::Email>,
}

/// Who changed a post's state, for the moderation log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Moderator {
    /// A moderator, owner or global administrator account.
    Account(Id),
    /// The admin token.
    AdminToken,
    /// The forum's secret key (the site's own server).
    SecretKey,
    /// The spam filter.
    Filter,
    /// The post's author (deleting their own post), or their account's deletion.
    Author,
    /// The forum's rules (restricted words, links, first posts).
    Rules,
    /// Readers' flags reaching the forum's threshold.
    Flags,
}

impl Moderator {
    pub fn kind(self) -> &'static str {
        match self {
            Moderator::Account(_) => "account",
            Moderator::AdminToken => "admin_token",
            Moderator::SecretKey => "secret_key",
            Moderator::Filter => "filter",
            Moderator::Author => "author",
            Moderator::Rules => "rules",
            Moderator::Flags => "flags",
        }
    }

    pub fn from_parts(kind: &str, id: Option<Id>) -> Option<Self> {
        Some(match (kind, id) {
            ("account", Some(id)) => Moderator::Account(id),
            ("admin_token", _) => Moderator::AdminToken,
            ("secret_key", _) => Moderator::SecretKey,
            ("filter", _) => Moderator::Filter,
            ("author", _) => Moderator::Author,
            ("rules", _) => Moderator::Rules,
            ("flags", _) => Moderator::Flags,
            _ => return None,
        })
    }

    pub fn account(self) -> Option<Id> {
        match self {
            Moderator::Account(id) => Some(id),
            _ => None,
        }
    }

    /// A moderator's own decision (an account, the admin token or the site's secret
    /// key), as opposed to the filter, the rules, the readers or the author.
    pub fn is_person_or_key(self) -> bool {
        matches!(self, Moderator::Account(_) | Moderator::AdminToken | Moderator::SecretKey)
    }
}

/// One change of a post's state.
#[derive(Debug, Clone, PartialEq)]
pub struct ModerationEntry {
    pub id: Id,
    pub forum_id: Id,
    pub post_id: Id,
    pub by: Moderator,
    pub from: PostState,
    pub to: PostState,
    pub reason: Option<String>,
    pub at: UnixMs,
}

/// What a ban matches.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum BanTarget {
    Account(Id),
    /// A lowercased address.
    Email(String),
    /// A lowercased domain: every address at it.
    Domain(String),
    /// A network in CIDR notation (a single address is /32 or /128).
    Ip(String),
}

impl BanTarget {
    pub fn kind(&self) -> &'static str {
        match self {
            BanTarget::Account(_) => "account",
            BanTarget::Email(_) => "email",
            BanTarget::Domain(_) => "domain",
            BanTarget::Ip(_) => "ip",
        }
    }

    pub fn value(&self) -> String {
        match self {
            BanTarget::Account(id) => id.to_string(),
            BanTarget::Email(v) | BanTarget::Domain(v) | BanTarget::Ip(v) => v.clone(),
        }
    }

    pub fn from_parts(kind: &str, value: String) -> Option<Self> {
        Some(match kind {
            "account" => BanTarget::Account(value.parse().ok()?),
            "email" => BanTarget::Email(value),
            "domain" => BanTarget::Domain(value),
            "ip" => BanTarget::Ip(value),
            _ => return None,
        })
    }
}

/// A ban (or, with an expiry, a timeout) in one forum.
#[derive(Debug, Clone, PartialEq)]
pub struct Ban {
    pub id: Id,
    pub forum_id: Id,
    pub target: BanTarget,
    pub reason: Option<String>,
    pub by: Moderator,
    pub expires_at: Option<UnixMs>,
    /// A shadow ban: posts are taken but shown only to their author.
    pub shadow: bool,
    pub created_at: UnixMs,
}

/// A ban to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBan {
    pub target: BanTarget,
    pub reason: Option<String>,
    pub by: Moderator,
    /// `None`: until lifted; else a timeout.
    pub expires_at: Option<UnixMs>,
    pub shadow: bool,
}

/// Why a reader flags a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FlagReason {
    Spam,
    Abuse,
    OffTopic,
    Other,
}

impl FlagReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagReason::Spam => "spam",
            FlagReason::Abuse => "abuse",
            FlagReason::OffTopic => "off_topic",
            FlagReason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "spam" => FlagReason::Spam,
            "abuse" => FlagReason::Abuse,
            "off_topic" => FlagReason::OffTopic,
            "other" => FlagReason::Other,
            _ => return None,
        })
    }
}

/// One reader's flag on a post (the reader is not named: moderators see reasons).
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub reason: FlagReason,
    pub note: Option<String>,
    pub at: UnixMs,
}

/// Who is posting, as bans see them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BanProbe {
    pub account: Option<Id>,
    pub email: Option<String>,
}
