//! patch-waves: the shared entry point reads the configuration once, builds
//! the clients once, reports a bad configuration, then serves.

use patch_waves::{App, Config, handle};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::runtime::serve(
        |env, sdk, output| App::new(Config::from_env(env), sdk, output),
        handle,
    )
    .await
}
