//! The keep-cache: values read once in a request are remembered for the rest of it,
//! so a value several parts of one request need is fetched once. Scoped with
//! [`scope`]; outside a scope nothing is kept.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use bytes::Bytes;

tokio::task_local! {
    static KEPT: Mutex<HashMap<String, (u64, Bytes)>>;
}

/// Runs `f` with a keep-cache of its own.
pub async fn scope<F: Future>(f: F) -> F::Output {
    KEPT.scope(Mutex::new(HashMap::new()), f).await
}

pub(crate) fn get(key: &str, min_version: u64) -> Option<Bytes> {
    KEPT.try_with(|k| {
        let k = k.lock().expect("keep lock");
        k.get(key).filter(|(v, _)| *v >= min_version).map(|(_, b)| b.clone())
    })
    .ok()
    .flatten()
}

pub(crate) fn put(key: &str, version: u64, value: &Bytes) {
    let _ = KEPT.try_with(|k| k.lock().expect("keep lock").insert(key.to_owned(), (version, value.clone())));
}

/// A write in this request replaced it: read it again.
pub(crate) fn forget(key: &str) {
    let _ = KEPT.try_with(|k| k.lock().expect("keep lock").remove(key));
}
