//! Integration tests of the whole API against DynamoDB Local, one module per feature.

mod auth;
mod bodies;
mod pages;
mod rate_limit;
