//! Integration tests: one binary, one module per area.

mod util;

mod ad;
mod catalogue;
mod certify;
mod cli;
mod corpus;
mod errors;
mod fixed;
mod geometry;
mod known_relations;
mod layout;
mod properties;
mod rates;
mod reliability;
mod reports;
mod shards;
mod snapshots;
