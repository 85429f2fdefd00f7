//! The tests' fake servers, each on a thread of its own.

/// Serves `app` on `listener` from a thread with a runtime of its own, so that a test's runtime
/// (single-threaded, or blocked in a synchronous call) never starves the fake servers it
/// talks to; until `stop` fires, or for the process's life without one.
pub fn serve_on_own_thread(
    listener: std::net::TcpListener,
    app: axum::Router,
    stop: Option<tokio::sync::oneshot::Receiver<()>>,
) {
    use std::future::IntoFuture;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let served = axum::serve(listener, app).into_future();
            match stop {
                Some(stopped) => tokio::select! {
                    done = served => done.unwrap(),
                    _ = stopped => {}
                },
                None => served.await.unwrap(),
            }
        });
    });
}
