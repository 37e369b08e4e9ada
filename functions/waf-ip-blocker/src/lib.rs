//! waf-ip-blocker
