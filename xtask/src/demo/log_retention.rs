//! This function's part of the demo.

use super::Ctx;
use crate::Result;

pub async fn run(_ctx: &Ctx) -> Result {
    println!("(this function is not built yet)");
    Ok(())
}
