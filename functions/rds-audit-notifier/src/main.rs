//! rds-audit-notifier: the Lambda entry point.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use rds_audit_notifier::{App, handle};
use serde_json::Value;
use shared::config::Env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let mut env = Env::from_process();
    let sdk = shared::aws::load();
    let app = App::from_env(&mut env, &sdk);
    env.finish()?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(event, app).await.map_err(Error::from)
    }))
    .await
}
