//! Integration tests of the whole API against DynamoDB Local, one module per feature.

mod auth;
mod bodies;
mod chat;
mod concurrency;
mod cors;
mod cross_org;
mod domains;
mod events;
mod hardening;
mod incident_delete;
mod incidents;
mod integrations;
mod key_usage;

mod keys;
mod layout;
mod local_stream;
mod maintenances;
mod monitors;
mod og_ad;
mod org_incidents;
mod page_access;
mod pages;
mod quotas;
mod rate_limit;
mod services;
mod status_pages;
mod subscribers;
mod template;
mod uptime;
mod webhooks;
