//! maintenance-switch: the Lambda entry point.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use maintenance_switch::{App, Config, handle};
use shared::config::Env;
use shared::output::Output;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let sdk = shared::aws::load();
    let mut env = Env::from_process();
    let config = Config::from_env(&mut env);
    let output = Output::from_env(&mut env, &sdk);
    env.finish()?;
    let app = App::new(&sdk, config, output);
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move { handle(event, app).await },
    ))
    .await
}
