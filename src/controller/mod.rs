//! kube-runtime wiring: finalizer, status by server-side apply, Events, metrics.
