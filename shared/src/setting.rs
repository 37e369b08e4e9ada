//! The declaration of one environment variable a function reads.
//!
//! Each function lists its settings once, as `pub const SETTINGS: &[Setting]`
//! beside its `Config`, and reads the environment through them (see
//! [`crate::config::Env`]). `cargo xtask gen` writes every other copy from the
//! same list: the README's configuration table, the template's parameters
//! and environment, and the Terraform module's attributes and parameter
//! mapping. Adding a setting is one entry here plus a regenerate.
//!
//! The declarations are plain `const` data, so a function that shares a
//! setting with the others but explains it its own way writes
//! `Setting { description: "...", ..settings::DRY_RUN }`.

/// One environment variable: what it is, how it is documented, and how a
/// deployment sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    pub kind: Kind,
    pub required: Required,
    /// The value that applies when the variable is unset or empty, as it
    /// would be written in the environment. `None`: unset has a meaning of
    /// its own, which the description gives.
    pub default: Option<&'static str>,
    /// A value that works; error messages show it too.
    pub example: &'static str,
    /// One line of Markdown: what the setting does.
    pub description: &'static str,
    pub source: Source,
}

/// The shape of a value, which decides its Terraform type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A whole or decimal number.
    Number,
    /// `true` or `false`.
    Flag,
    /// Comma-separated items (a Terraform `list(string)`).
    List,
    /// A JSON document; the Terraform module takes it as this HCL type.
    Json(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    Yes,
    No,
    /// Required together with others, in the README's words ("one of the two").
    OneOf(&'static str),
}

/// Where a deployment's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A template parameter of the function's own, generated from this
    /// declaration.
    Parameter(Parameter),
    /// A template parameter every function shares: one both applications
    /// have, declared in xtask/src/generate/application.rs (the Slack
    /// webhook), or one written by hand in the product template's shared
    /// settings (the result bus).
    SharedParameter(&'static str),
    /// A value of the template's own making (a table it creates), as YAML.
    Template(&'static str),
    /// The template does not set it; an operator may.
    Unset,
}

/// A template parameter that sets one variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parameter {
    pub name: &'static str,
    pub constraint: Constraint,
    /// At most this many characters (keeping the function's environment
    /// under Lambda's 4 KB).
    pub max_length: Option<u32>,
    /// The parameter's default when it differs from the setting's (a
    /// required variable the template still fills in).
    pub default: Option<&'static str>,
    /// The attribute of the function's object variable in the Terraform
    /// module; `None` when the module computes the value itself (an IP set
    /// it may create).
    pub attribute: Option<&'static str>,
}

/// What the template's parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// A string matching `pattern`; `description` is what CloudFormation
    /// shows when it does not.
    Pattern {
        pattern: &'static str,
        description: Option<&'static str>,
    },
    /// One of these strings.
    Values(&'static [&'static str]),
    /// One of these numbers.
    Numbers(&'static [&'static str]),
    /// A number in this range.
    Range { min: u64, max: u64 },
}

impl Constraint {
    /// The CloudFormation parameter type this constraint needs.
    pub fn parameter_type(&self) -> &'static str {
        match self {
            Self::Numbers(_) | Self::Range { .. } => "Number",
            Self::Pattern { .. } | Self::Values(_) => "String",
        }
    }
}

impl Setting {
    /// The declared default, parsed; `None` when there is none or it does
    /// not parse (each function's defaults test sees to the latter).
    pub fn default_value<T: std::str::FromStr>(&self) -> Option<T> {
        self.default?.parse().ok()
    }

    /// The template parameter this setting declares, if any.
    pub fn parameter(&self) -> Option<&Parameter> {
        match &self.source {
            Source::Parameter(p) => Some(p),
            _ => None,
        }
    }
}
