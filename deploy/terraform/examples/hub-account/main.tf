# toilkit-hub in the central account: the collector, and the policy that
# lets every product account forward its reports to this account's default
# bus. Copy this folder, set the variables in a
# terraform.tfvars (see terraform.tfvars.example), `terraform init` and
# `terraform apply`. Then give each product account's toilkit module
# result_event_bus = "default" and result_event_forward_bus_arn = the bus_arn
# output.

module "toilkit_hub" {
  source = "../../modules/toilkit-hub"

  application_id   = var.hub_application_id
  semantic_version = var.hub_version

  # Who may send: every account of the organization, and accounts outside it.
  organization_id = var.organization_id
  source_accounts = var.source_accounts

  slack_webhook   = { parameter = var.slack_webhook_parameter }
  alarm_topic_arn = var.alarm_topic_arn

  hub_collector = {
    # waf-ip-blocker runs on a schedule here too: watch it, hourly.
    expected_intervals     = { "waf-ip-blocker" = 60 }
    silence_margin_minutes = 30
  }
}

output "bus_arn" {
  description = "Set as result_event_forward_bus_arn in every product account."
  value       = module.toilkit_hub.bus_arn
}

output "athena_table" {
  description = "Query the reports: SELECT ... FROM <athena_table> WHERE \"date\" >= '2026-12-01'."
  value       = module.toilkit_hub.athena_table
}

output "dashboard_bucket" {
  description = "Bucket of the dashboard page (index.html)."
  value       = module.toilkit_hub.dashboard_bucket
}
