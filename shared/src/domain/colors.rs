//! The status palette every surface shares (badges, email, chat messages): one colour
//! per severity, dark enough for white text (WCAG AA: each passes 4.5:1, which
//! shields.io's own palette does not at 11px bold).

/// All good: operational, resolved, completed.
pub const GREEN: &str = "#1a7f37";
/// Degraded, minor.
pub const YELLOW: &str = "#8a5c00";
/// Partial outage, major impact.
pub const ORANGE: &str = "#b3470a";
/// Major outage, critical impact.
pub const RED: &str = "#c3202b";
/// Maintenance.
pub const BLUE: &str = "#0969da";
/// No data, cancelled, anything else.
pub const GREY: &str = "#59636e";
