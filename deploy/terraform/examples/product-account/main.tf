# toilkit in one product account. Copy this folder, set the variables in a
# terraform.tfvars (see terraform.tfvars.example), `terraform init` and
# `terraform apply`.

module "toilkit" {
  source = "../../modules/toilkit"

  application_id   = var.toilkit_application_id
  semantic_version = var.toilkit_version

  slack_webhook   = { parameter = var.slack_webhook_parameter }
  alarm_topic_arn = var.alarm_topic_arn

  # Retention for every log group, deletion of stale empty ones, and old
  # application logs pruned from S3. Start with dry_run = true, read the
  # reports, then switch it off.
  log_retention = {
    enabled                 = true
    dry_run                 = true
    retention_days          = 30
    delete_empty_after_days = 90
    rules = [
      { prefix = "/aws/lambda/", days = 14 },
      { prefix = "/audit/", keep = true },
    ]
    s3_prune = var.app_log_bucket == null ? null : [
      { bucket = var.app_log_bucket, prefix = "app/", days = 90 },
    ]
  }

  # Block IPs that flood the product's web ACL: two new IP sets, to be
  # referenced from a block rule of the web ACL.
  waf_ip_blocker = {
    enabled         = var.waf_log_bucket != null
    create_ip_sets  = var.waf_log_bucket != null
    log_bucket_name = var.waf_log_bucket
    log_key_prefix  = "AWSLogs/"
    threshold       = 300
    uri_rules = [
      { path = "/login", threshold = 30 },
      { path = "/static/*", ignore = true },
    ]
    allow_cidrs = ["203.0.113.0/24"]
  }

  rds_audit_notifier = {
    enabled         = length(var.rds_audit_log_groups) > 0
    log_group_names = var.rds_audit_log_groups
    # watch_users alerts only with "watched_user" among the categories.
    alert_on    = ["ddl", "account", "failed_login", "watched_user"]
    watch_users = ["admin"]
  }

  maintenance_switch = {
    enabled             = true
    load_balancer_names = "shop-*"
  }

  config_triage = {
    enabled = true
    severity_rules = [
      { rule = "*-public-*", severity = "critical" },
      { rule = "encrypted-volumes", severity = "high" },
    ]
    exemptions = [
      { tag = { key = "toilkit:exempt" }, reason = "reviewed by security" },
    ]
    owner_tag_key = "team"
  }
}

output "function_arns" {
  description = "ARN of each deployed toilkit function."
  value       = module.toilkit.function_arns
}

output "waf_ip_set_arns" {
  description = "IP sets to reference from a block rule of the web ACL."
  value       = module.toilkit.waf_ip_set_arns
}

output "waf_backfill" {
  description = "State machine that backfills waf-ip-blocker over a prefix of the WAF log bucket, with the bucket and prefix it may list."
  value       = module.toilkit.waf_backfill
}

output "maintenance_state_machine_arn" {
  description = "State machine that runs maintenance windows."
  value       = module.toilkit.maintenance_state_machine_arn
}

output "log_retention_sweep_state_machine_arn" {
  description = "State machine that sweeps the account's log groups to the end."
  value       = module.toilkit.log_retention_sweep_state_machine_arn
}
