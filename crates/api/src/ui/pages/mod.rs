//! The UI's pages, one module each; each handler reads and writes through
//! [`super::client`] only.

pub mod cluster;
pub mod clusters;
pub mod editor;
pub mod history;
pub mod job;
pub mod login;
pub mod system;
