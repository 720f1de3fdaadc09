//! Statements through `query_typed` only: every parameter is sent with its type, so no
//! named prepared statement is ever created and pgbouncer in transaction mode is safe.
//! Every statement, `BEGIN` and `COMMIT` included, is counted into the request's
//! [`confab_store::stats`] scope, as the embedded store counts them.

use std::sync::atomic::{AtomicU64, Ordering};

use confab_core::id::Id;
use confab_store::{StoreError, StoreResult, stats};
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{Error, GenericClient, Row};

/// A Rust value with the PostgreSQL type it is sent as.
pub(crate) trait Param: ToSql + Sync {
    const TYPE: Type;
}

macro_rules! param {
    ($($t:ty => $ty:ident),* $(,)?) => { $(impl Param for $t { const TYPE: Type = Type::$ty; })* };
}
param! {
    i16 => INT2, i32 => INT4, i64 => INT8, f64 => FLOAT8, bool => BOOL,
    String => TEXT, &str => TEXT, Vec<u8> => BYTEA, &[u8] => BYTEA,
    Vec<i64> => INT8_ARRAY, Vec<String> => TEXT_ARRAY, Vec<&str> => TEXT_ARRAY, Vec<i16> => INT2_ARRAY,
    Vec<i32> => INT4_ARRAY, Vec<f64> => FLOAT8_ARRAY, Vec<Vec<u8>> => BYTEA_ARRAY, Vec<bool> => BOOL_ARRAY,
    Vec<Option<i64>> => INT8_ARRAY, Vec<Option<Vec<u8>>> => BYTEA_ARRAY, Vec<Option<String>> => TEXT_ARRAY,
}
impl<T: Param> Param for Option<T> {
    const TYPE: Type = T::TYPE;
}

pub(crate) type Typed<'a> = (&'a (dyn ToSql + Sync), Type);

pub(crate) fn p<T: Param>(v: &T) -> Typed<'_> {
    (v, T::TYPE)
}

/// `args![a, b]`: typed parameters for `query_typed`.
macro_rules! args {
    ($($v:expr),* $(,)?) => { &[$($crate::sql::p(&$v)),*] };
}
pub(crate) use args;

/// How long the client waits for any one statement's answer, in ms: the statement
/// timeout (set by [`crate::Topology::new`]; a live server cancels a slow statement
/// itself) and a second more, for a server that cannot answer at all (frozen, or cut off
/// without a reset). One value per process, from the topology it opens.
static STATEMENT_DEADLINE_MS: AtomicU64 = AtomicU64::new(6_000);

pub(crate) fn set_statement_deadline(statement_timeout_ms: u64) {
    STATEMENT_DEADLINE_MS.store(statement_timeout_ms + 1_000, Ordering::Relaxed);
}

/// `f`, or `Unavailable` once the statement deadline has passed.
async fn answered<T>(f: impl std::future::Future<Output = Result<T, Error>>) -> StoreResult<T> {
    let ms = STATEMENT_DEADLINE_MS.load(Ordering::Relaxed);
    match tokio::time::timeout(std::time::Duration::from_millis(ms), f).await {
        Ok(r) => r.map_err(db_err),
        Err(_) => Err(StoreError::Unavailable(format!("database: no answer within {ms} ms"))),
    }
}

pub(crate) fn count() {
    if let Some(s) = stats::current() {
        s.add_statement();
    }
}

/// Maps a driver error: a lost connection, a cancelled statement (the timeout) or a
/// server shutting down is an unavailable backend (503); the rest is internal (500).
/// Constraint violations are mapped by callers that know which constraint means what.
pub(crate) fn db_err(e: Error) -> StoreError {
    use tokio_postgres::error::SqlState;
    match e.code() {
        None => StoreError::Unavailable(format!("database connection: {e}")),
        Some(c)
            if *c == SqlState::QUERY_CANCELED
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || *c == SqlState::READ_ONLY_SQL_TRANSACTION
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            StoreError::Unavailable(format!("database: {e}"))
        }
        Some(_) => StoreError::Internal(match e.as_db_error() {
            Some(d) => format!("{} ({})", d.message(), d.code().code()),
            None => e.to_string(),
        }),
    }
}

/// The unique constraint `e` violates, if that is what it is.
pub(crate) fn unique_violation(e: &Error) -> Option<&str> {
    let d = e.as_db_error()?;
    (*d.code() == tokio_postgres::error::SqlState::UNIQUE_VIOLATION).then(|| d.constraint()).flatten()
}

pub(crate) async fn rows(c: &impl GenericClient, sql: &str, args: &[Typed<'_>]) -> StoreResult<Vec<Row>> {
    count();
    answered(c.query_typed(sql, args)).await
}

/// Like [`rows`], keeping the driver's error for the caller to inspect.
pub(crate) async fn try_rows(c: &impl GenericClient, sql: &str, args: &[Typed<'_>]) -> Result<Vec<Row>, Error> {
    count();
    c.query_typed(sql, args).await
}

pub(crate) async fn opt(c: &impl GenericClient, sql: &str, args: &[Typed<'_>]) -> StoreResult<Option<Row>> {
    Ok(rows(c, sql, args).await?.into_iter().next())
}

pub(crate) async fn one(c: &impl GenericClient, sql: &str, args: &[Typed<'_>]) -> StoreResult<Row> {
    opt(c, sql, args).await?.ok_or_else(|| StoreError::Internal(format!("no row from: {sql}")))
}

/// Runs a statement and returns how many rows it touched (`RETURNING 1` counted).
pub(crate) async fn exec(c: &impl GenericClient, sql: &str, args: &[Typed<'_>]) -> StoreResult<u64> {
    Ok(rows(c, sql, args).await?.len() as u64)
}

/// Starts a transaction (counted: `BEGIN` is a round trip).
pub(crate) async fn begin(c: &mut tokio_postgres::Client) -> StoreResult<tokio_postgres::Transaction<'_>> {
    count();
    answered(c.transaction()).await
}

pub(crate) async fn commit(tx: tokio_postgres::Transaction<'_>) -> StoreResult<()> {
    count();
    answered(tx.commit()).await
}

/// Column `i`, or an internal error naming it (a row the schema cannot produce).
pub(crate) fn col<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> StoreResult<T> {
    r.try_get(i).map_err(|e| StoreError::Internal(format!("column {i}: {e}")))
}

pub(crate) fn id_col(r: &Row, i: usize) -> StoreResult<Id> {
    Id::from_i64(col(r, i)?).ok_or_else(|| StoreError::Internal(format!("column {i}: invalid id")))
}

pub(crate) fn opt_id_col(r: &Row, i: usize) -> StoreResult<Option<Id>> {
    col::<Option<i64>>(r, i)?
        .map(|v| Id::from_i64(v).ok_or_else(|| StoreError::Internal(format!("column {i}: invalid id"))))
        .transpose()
}
