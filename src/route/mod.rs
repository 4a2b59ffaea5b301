//! Default routes: predicting which network will hold a container's default route
//! (the engine's ordering rules) and reading the route the kernel actually has.

pub mod predict;
mod read;
pub mod table;

pub use predict::{Endpoint, Holder, RouteReason, Routes, default_route_holder, default_routes};
pub use read::{
    Attempt, Family, ProcFile, ProcNet, ProcNetError, ReadOptions, ReadSource, RouteMoved,
    RouteReadError, RouteReading, check, check_both, explain_move, read_default_route,
    read_default_route_with, why_moved,
};
pub use table::{DefaultRoute, parse_ipv4_route_table, parse_ipv6_route_table};
