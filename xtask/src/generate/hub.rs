//! deploy/hub/template.yaml, the toilkit-hub application: its hand-written
//! head (the bus, the table, the buckets, the Athena table) and, in
//! generated regions, its function, composed as the product template's are
//! (template.rs) but always deployed: no `Enable` switch.

use std::path::{Path, PathBuf};

use super::template;
use super::{Function, Target};

pub fn target(root: &Path, functions: &[Function]) -> Result<Target, String> {
    let app = &crate::package::HUB;
    let parts = template::compose(root, functions, false, app.code_uri)?;
    Ok(Target {
        path: PathBuf::from(app.template),
        regions: vec![
            ("hub-parameter-groups".to_owned(), parts.groups),
            ("hub-parameters".to_owned(), parts.parameters),
            ("hub-conditions".to_owned(), parts.conditions),
            ("hub-resources".to_owned(), parts.resources),
            ("hub-outputs".to_owned(), parts.outputs),
        ],
    })
}
