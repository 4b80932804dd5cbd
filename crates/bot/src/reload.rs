//! Hot reload: a watcher on the rules file's directory (editors replace files by
//! renaming) that reloads the engine when the file's content changes. An invalid file
//! keeps the old rules; the errors are logged and counted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use wecom_sdk_matcher::Engine;

use crate::error::BuildError;
use crate::metrics::Metrics;

/// Starts watching `path`; the watcher stops when the returned value is dropped.
pub(crate) fn watch(
    path: &Path,
    engine: Arc<Engine>,
    metrics: Arc<Metrics>,
) -> Result<notify::RecommendedWatcher, BuildError> {
    let fail = |reason: String| BuildError::Watch {
        path: path.display().to_string(),
        reason,
    };
    let file: PathBuf = std::fs::canonicalize(path).map_err(|e| fail(e.to_string()))?;
    let dir = file
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| fail("the file has no directory".to_owned()))?;
    // Events go to a thread that waits for the writes to settle (an editor truncates,
    // then writes; a deploy renames), then reloads once if the bytes changed.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let target = file.clone();
    let name = file.file_name().map(std::ffi::OsStr::to_owned);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_))
            && event
                .paths
                .iter()
                .any(|p| p == &target || p.file_name() == name.as_deref())
        {
            let _ = tx.send(());
        }
    })
    .map_err(|e| fail(e.to_string()))?;
    let last = std::fs::read(&file).ok();
    std::thread::Builder::new()
        .name("wecom-rules-watch".to_owned())
        .spawn(move || settle_and_reload(&rx, &file, last, &engine, &metrics))
        .map_err(|e| fail(e.to_string()))?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| fail(e.to_string()))?;
    Ok(watcher)
}

/// How long the file must stay unchanged before it is read.
const SETTLE: Duration = Duration::from_millis(150);

fn settle_and_reload(
    rx: &Receiver<()>,
    file: &Path,
    mut last: Option<Vec<u8>>,
    engine: &Engine,
    metrics: &Metrics,
) {
    // Ends when the watcher (the sender) is dropped.
    while rx.recv().is_ok() {
        loop {
            match rx.recv_timeout(SETTLE) {
                Ok(()) => {}
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        let Ok(now) = std::fs::read(file) else {
            continue;
        };
        if last.as_deref() == Some(now.as_slice()) {
            continue;
        }
        last = Some(now);
        match engine.reload_from(file) {
            Ok(warnings) => {
                Metrics::incr(&metrics.reloads);
                tracing::info!(file = %file.display(), rules = engine.rules().len(), warnings = warnings.len(), "rules reloaded");
                for w in warnings {
                    tracing::warn!(rule = %w.rule, "rules warning: {}", w.message);
                }
            }
            Err(e) => {
                Metrics::incr(&metrics.reload_failures);
                tracing::error!(file = %file.display(), "rules file refused, the old rules stay: {e}");
            }
        }
    }
}
