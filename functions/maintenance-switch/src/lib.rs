//! maintenance-switch
