//! The bottom layer: sockets, files and threads, knowing nothing of guests or tenants.

pub mod confine;
pub mod listen;
pub mod pace;
pub mod sendfile;
pub mod workers;
