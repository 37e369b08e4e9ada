//! log-retention: read the configuration once, build the clients once, serve.
// The handler future nests the SDK's deeply; its layout needs more than the default depth.
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, service_fn};
use log_retention::{App, Config};
use serde_json::Value;
use shared::config::Env;
use shared::output::Output;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let mut env = Env::from_process();
    let config = Config::from_env(&mut env);
    let sdk = shared::aws::load();
    let output = Output::from_env(&mut env, &sdk);
    if let Err(problems) = env.finish() {
        // The Display form lists every problem; main's own report would be Debug.
        eprintln!("log-retention cannot start: {problems}");
        return Err(problems.into());
    }
    let app = App::new(config, &sdk, output);
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        log_retention::handle(event, app).await.map_err(Error::from)
    }))
    .await
}
