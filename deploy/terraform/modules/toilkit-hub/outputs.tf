output "stack_id" {
  description = "ID of the CloudFormation stack (serverlessrepo-<name>-hub)."
  value       = aws_serverlessapplicationrepository_cloudformation_stack.hub.id
}

output "stack_outputs" {
  description = "Every output of the application's stack."
  value       = aws_serverlessapplicationrepository_cloudformation_stack.hub.outputs
}

output "bus_arn" {
  description = "This account's default bus, which the hub receives on: each product account's toilkit module takes it as result_event_forward_bus_arn."
  value       = lookup(aws_serverlessapplicationrepository_cloudformation_stack.hub.outputs, "BusArn", null)
}

output "history_bucket" {
  description = "Bucket of every report, under reports/date=YYYY-MM-DD/account=<id>/."
  value       = lookup(aws_serverlessapplicationrepository_cloudformation_stack.hub.outputs, "HistoryBucketName", null)
}

output "dashboard_bucket" {
  description = "Private bucket of the dashboard page (index.html)."
  value       = lookup(aws_serverlessapplicationrepository_cloudformation_stack.hub.outputs, "DashboardBucketName", null)
}

output "athena_table" {
  description = "The Athena table of the history, database.table."
  value       = lookup(aws_serverlessapplicationrepository_cloudformation_stack.hub.outputs, "AthenaTable", null)
}

output "function_arn" {
  description = "ARN of the hub-collector function."
  value       = lookup(aws_serverlessapplicationrepository_cloudformation_stack.hub.outputs, "HubCollectorFunctionArn", null)
}
