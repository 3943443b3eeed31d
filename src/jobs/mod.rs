//! Background work run inside each app instance (when `RUN_JOBS` is on).
//! Every job claims its rows with `FOR UPDATE SKIP LOCKED`, so any number of
//! instances can run them without doing anything twice.

use std::sync::Arc;

use crate::app::AppState;

/// Starts the background workers of this instance.
pub fn spawn(state: Arc<AppState>) {
    if !state.config.run_jobs {
        return;
    }
    tracing::debug!("background jobs started");
}
