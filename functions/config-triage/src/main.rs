//! config-triage: reads its configuration once, then serves invocations.

use config_triage::settings::Settings;
use config_triage::{App, handle};
use lambda_runtime::{Error, service_fn};
use shared::config::Env;
use shared::output::Output;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let mut env = Env::from_process();
    let settings = Settings::from_env(&mut env);
    let sdk = shared::aws::load();
    let output = Output::from_env(&mut env, &sdk);
    env.finish()?;
    let app = App::new(settings, &sdk, output);
    lambda_runtime::run(service_fn(|event| handle(event, &app))).await
}
