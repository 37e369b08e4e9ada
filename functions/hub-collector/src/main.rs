//! hub-collector: the shared entry point reads the configuration once,
//! builds the clients once, reports a bad configuration, then serves.
// The handler future nests the SDK's deeply; its layout needs more than the default depth.
#![recursion_limit = "256"]

use hub_collector::{App, Config, handle};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::runtime::serve(
        |env, sdk, output| App::new(Config::from_env(env), sdk, output),
        handle,
    )
    .await
}
