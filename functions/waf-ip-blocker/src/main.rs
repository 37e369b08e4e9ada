//! waf-ip-blocker: reads its configuration once, then serves invocations.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use shared::config::Env;
use shared::output::Output;
use waf_ip_blocker::App;
use waf_ip_blocker::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let mut env = Env::from_process();
    let config = Config::from_env(&mut env);
    let sdk = shared::aws::load();
    let output = Output::from_env(&mut env, &sdk);
    env.finish()?;
    let app = App::new(config, &sdk, output);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        waf_ip_blocker::handle(event, &app)
    }))
    .await
}
