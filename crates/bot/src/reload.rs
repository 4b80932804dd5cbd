//! Hot reload: a watcher on the rules file's directory (editors replace files by
//! renaming) that reloads the engine when the file's content changes. An invalid file
//! keeps the old rules; the errors are logged and counted.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

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
    let last = Mutex::new(std::fs::read(&file).ok());
    let target = file.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if !matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_)) {
            return;
        }
        if !event.paths.iter().any(|p| p == &target || p.file_name() == target.file_name()) {
            return;
        }
        // Reload only when the bytes changed (one save raises several events).
        let Ok(now) = std::fs::read(&target) else { return };
        {
            let mut last = last.lock().unwrap_or_else(PoisonError::into_inner);
            if last.as_deref() == Some(now.as_slice()) {
                return;
            }
            *last = Some(now);
        }
        match engine.reload_from(&target) {
            Ok(warnings) => {
                Metrics::incr(&metrics.reloads);
                tracing::info!(file = %target.display(), rules = engine.rules().len(), warnings = warnings.len(), "rules reloaded");
                for w in warnings {
                    tracing::warn!(rule = %w.rule, "rules warning: {}", w.message);
                }
            }
            Err(e) => {
                Metrics::incr(&metrics.reload_failures);
                tracing::error!(file = %target.display(), "rules file refused, the old rules stay: {e}");
            }
        }
    })
    .map_err(|e| fail(e.to_string()))?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| fail(e.to_string()))?;
    Ok(watcher)
}
