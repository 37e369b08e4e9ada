variable "toilkit_version" {
  description = "Version of toilkit to deploy everywhere."
  type        = string
  default     = "0.1.0"
}

variable "publishing_account_id" {
  description = "Account that publishes toilkit to the Serverless Application Repository (one application per Region, shared with the organization)."
  type        = string
}

variable "deploy_role_name" {
  description = "Role this configuration assumes in each product account (it needs the permissions of the README's Deploy section)."
  type        = string
  default     = "toilkit-deployer"
}

variable "shop_prod_account_id" {
  description = "The shop's production account."
  type        = string
}

variable "payments_prod_account_id" {
  description = "The payments team's production account."
  type        = string
}

variable "central_bus_arn" {
  description = "Central EventBridge bus of the platform account that receives every report (its policy allows the organization, see the README); null for none."
  type        = string
  default     = null
}

# --- The StackSet route ------------------------------------------------------

variable "stackset_enabled" {
  description = "Also deploy toilkit to every account of the organizational units below with a service-managed StackSet (run from the management account or a delegated administrator)."
  type        = bool
  default     = false
}

variable "stackset_template_path" {
  description = "stackset.template.json written by `cargo xtask package` (target/sam/)."
  type        = string
  default     = "stackset.template.json"
}

variable "stackset_code_bucket_prefix" {
  description = "Code buckets of the StackSet: <prefix>-<region> in each Region of stackset_regions, holding toilkit/<version>/<function>/bootstrap.zip; their policy lets the organization read (aws:PrincipalOrgID)."
  type        = string
  default     = null
}

variable "stackset_organizational_unit_ids" {
  description = "Organizational units whose accounts (including those created later) get toilkit."
  type        = list(string)
  default     = []
}

variable "stackset_regions" {
  description = "Regions of each account that get a stack instance."
  type        = list(string)
  default     = ["eu-west-1"]
}

variable "stackset_parameters" {
  description = "Template parameters of the StackSet (only those that differ from the defaults): which functions, and their settings."
  type        = map(string)
  default = {
    EnableLogRetention    = "true"
    LogRetentionDays      = "30"
    LogRetentionDryRun    = "true"
    SlackWebhookParameter = "/toilkit/slack-webhook"
  }
}

variable "stackset_call_as" {
  description = "SELF from the management account, DELEGATED_ADMIN from a delegated administrator account."
  type        = string
  default     = "SELF"
}
