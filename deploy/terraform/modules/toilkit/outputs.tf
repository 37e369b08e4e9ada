output "stack_id" {
  description = "ID of the CloudFormation stack (serverlessrepo-<name>)."
  value       = aws_serverlessapplicationrepository_cloudformation_stack.toilkit.id
}

output "stack_outputs" {
  description = "Every output of the application's stack: function ARNs, the state machine ARN, table names."
  value       = aws_serverlessapplicationrepository_cloudformation_stack.toilkit.outputs
}

output "function_arns" {
  description = "ARN of each enabled function, by function name."
  value = { for name, key in {
    "waf-ip-blocker"       = "WafIpBlockerFunctionArn"
    "rds-audit-notifier"   = "RdsAuditNotifierFunctionArn"
    "maintenance-switch"   = "MaintenanceSwitchFunctionArn"
    "config-triage"        = "ConfigTriageFunctionArn"
    "log-retention"        = "LogRetentionFunctionArn"
    "access-denied-triage" = "AccessDeniedTriageFunctionArn"
    "patch-waves"          = "PatchWavesFunctionArn"
  } : name => lookup(aws_serverlessapplicationrepository_cloudformation_stack.toilkit.outputs, key, null) if lookup(aws_serverlessapplicationrepository_cloudformation_stack.toilkit.outputs, key, null) != null }
}

output "maintenance_state_machine_arn" {
  description = "ARN of the maintenance-window state machine (null unless maintenance_switch is enabled)."
  value       = lookup(aws_serverlessapplicationrepository_cloudformation_stack.toilkit.outputs, "MaintenanceWindowStateMachineArn", null)
}

output "patch_waves_rollout_state_machine_arn" {
  description = "ARN of the patch-waves rollout state machine (when patch_waves.rollout_enabled): start an execution to roll out patches."
  value       = lookup(aws_serverlessapplicationrepository_cloudformation_stack.toilkit.outputs, "PatchWavesRolloutStateMachineArn", null)
}

output "log_retention_sweep_state_machine_arn" {
  description = "ARN of the log-retention sweep state machine (null unless log_retention is enabled): the schedule starts it; start an execution to sweep the whole account now."
  value       = lookup(aws_serverlessapplicationrepository_cloudformation_stack.toilkit.outputs, "LogRetentionSweepStateMachineArn", null)
}

output "waf_backfill" {
  description = "waf-ip-blocker's backfill (null unless waf_ip_blocker is enabled with a log_bucket_name): its state machine, and the bucket and key prefix an execution may list. Start one with {\"bucket\", \"prefix\", \"dry_run\"} (waf-ip-blocker's README, Backfill)."
  value = lookup(aws_serverlessapplicationrepository_cloudformation_stack.toilkit.outputs, "WafBackfillStateMachineArn", null) == null ? null : {
    state_machine_arn = aws_serverlessapplicationrepository_cloudformation_stack.toilkit.outputs["WafBackfillStateMachineArn"]
    bucket            = local.waf.log_bucket_name
    prefix            = local.waf.log_key_prefix == null ? "" : local.waf.log_key_prefix
  }
}

output "waf_ip_set_arns" {
  description = "The WAF IP sets waf-ip-blocker writes to (created here or given): reference them from a block rule of your web ACL."
  value = {
    v4 = local.ipset_v4_arn
    v6 = local.ipset_v6_arn
  }
}
