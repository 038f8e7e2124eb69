//! Least privilege, checked: the AWS permissions each function's code needed during the
//! test suite, recorded by the SDK interceptor while a request is served, against the
//! function's policy in `template.yaml`. Nothing the code does may be missing from the
//! policy, and nothing in the policy may go unused.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Mutex, OnceLock};

tokio::task_local! {
    /// The function (its binary name) whose code is serving the current request.
    pub static FUNCTION: &'static str;
}

/// One permission used: (function, IAM action, resource as the template names it:
/// `Table`, `Table/index/gsi1`).
pub type Use = (String, String, String);

/// The environment variable naming the file the suite appends its uses to.
pub const LOG_VAR: &str = "AWS_CALL_LOG";

/// The pseudo-action under which writes record their partition key's prefix (`ORG#`),
/// checked against a policy's `dynamodb:LeadingKeys` condition where it has one.
pub const LEADING_KEY: &str = "dynamodb:LeadingKeys";

/// The IAM permissions one DynamoDB request needs: `TransactWriteItems` needs the
/// action of each item, a `Query` of an index needs that index; and for every write, the
/// prefix of the partition key it writes ([`LEADING_KEY`]).
pub fn permissions(operation: &str, body: &[u8]) -> Vec<(String, String)> {
    let body: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let mut needed = actions(operation, &body);
    needed.extend(written_partitions(operation, &body).into_iter().map(|pk| (LEADING_KEY.to_owned(), pk)));
    needed
}

/// `ORG#<uuid>` → `ORG#`: the part of a partition key before its variable part.
fn prefix_of(pk: &str) -> String {
    match pk.find('#') {
        Some(i) => pk[..=i].to_owned(),
        None => pk.to_owned(),
    }
}

/// The partition key prefixes a write request writes.
fn written_partitions(operation: &str, body: &serde_json::Value) -> Vec<String> {
    let pk_of = |key: &serde_json::Value| key["pk"]["S"].as_str().map(prefix_of);
    match operation {
        "PutItem" => pk_of(&body["Item"]).into_iter().collect(),
        "UpdateItem" | "DeleteItem" => pk_of(&body["Key"]).into_iter().collect(),
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let (_, op) = item.as_object()?.iter().next()?;
                pk_of(&op["Key"]).or_else(|| pk_of(&op["Item"]))
            })
            .collect(),
        "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.values())
            .filter_map(|requests| requests.as_array())
            .flatten()
            .filter_map(|r| pk_of(&r["PutRequest"]["Item"]).or_else(|| pk_of(&r["DeleteRequest"]["Key"])))
            .collect(),
        _ => Vec::new(),
    }
}

fn actions(operation: &str, body: &serde_json::Value) -> Vec<(String, String)> {
    let on_table = |action: &str| (format!("dynamodb:{action}"), "Table".to_owned());
    match operation {
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let kind = item.as_object()?.keys().next()?;
                let action =
                    if kind == "ConditionCheck" { "ConditionCheckItem".to_owned() } else { format!("{kind}Item") };
                Some(on_table(&action))
            })
            .collect(),
        "TransactGetItems" => vec![on_table("GetItem")],
        "Query" | "Scan" => match body["IndexName"].as_str() {
            Some(index) => vec![(format!("dynamodb:{operation}"), format!("Table/index/{index}"))],
            None => vec![on_table(operation)],
        },
        other => vec![on_table(other)],
    }
}

/// Records that `function` used `permissions`; each new use is appended to the file named
/// by [`LOG_VAR`], when set (several test binaries append to one file).
pub fn record(function: &str, permissions: Vec<(String, String)>) {
    static SEEN: OnceLock<Mutex<BTreeSet<Use>>> = OnceLock::new();
    let Some(path) = std::env::var_os(LOG_VAR) else { return };
    let mut seen = SEEN.get_or_init(Default::default).lock().unwrap();
    let mut lines = String::new();
    for (action, resource) in permissions {
        if seen.insert((function.to_owned(), action.clone(), resource.clone())) {
            lines.push_str(&format!("{function} {action} {resource}\n"));
        }
    }
    if !lines.is_empty() {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("open the AWS call log");
        file.write_all(lines.as_bytes()).expect("append to the AWS call log");
    }
}

/// The uses recorded in a log file.
pub fn read_log(text: &str) -> BTreeSet<Use> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split(' ');
            Some((parts.next()?.to_owned(), parts.next()?.to_owned(), parts.next()?.to_owned()))
        })
        .collect()
}

/// One function's policy: its statement grants every action on every resource.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Policy {
    /// IAM actions, e.g. `dynamodb:GetItem`.
    pub actions: BTreeSet<String>,
    /// Resources as named in the template: `Table`, `Table/index/gsi1`.
    pub resources: BTreeSet<String>,
    /// The `dynamodb:LeadingKeys` patterns its writes are limited to (`ORG#*`); empty:
    /// any partition.
    pub leading_keys: BTreeSet<String>,
}

/// Every function's policy in `template.yaml`, by binary, read line by line: a function's
/// `Binary:` comes before its `Policies:`, whose `Action:` and `Resource:` are lists. A
/// function's statements are merged: they grant different services' actions on those
/// services' resources (DynamoDB on the table, SES on identities).
pub fn policies(template: &str) -> BTreeMap<String, Policy> {
    let mut policies: BTreeMap<String, Policy> = BTreeMap::new();
    let mut function = String::new();
    let mut list = "";
    for line in template.lines().map(str::trim) {
        if let Some(binary) = line.strip_prefix("Binary: ") {
            function = binary.to_owned();
            policies.entry(function.clone()).or_default();
            list = "";
        } else if line == "Action:" || line == "Resource:" || line == "dynamodb:LeadingKeys:" {
            list = match line {
                "Action:" => "actions",
                "Resource:" => "resources",
                _ => "leading",
            };
        } else if let Some(item) = line.strip_prefix("- ").filter(|i| !list.is_empty() && !i.contains(": ")) {
            let policy = policies.entry(function.clone()).or_default();
            match list {
                "actions" => drop(policy.actions.insert(item.to_owned())),
                "resources" => drop(policy.resources.insert(resource_name(item))),
                _ => drop(policy.leading_keys.insert(item.trim_matches('"').to_owned())),
            }
        } else {
            list = "";
        }
    }
    policies
}

/// The resource name of SES email identities (what `ses:SendEmail` is granted on).
pub const EMAIL_IDENTITY: &str = "EmailIdentity";

/// `!GetAtt Table.Arn` → `Table`; `!Sub "${Table.Arn}/index/gsi1"` → `Table/index/gsi1`;
/// an SES identity ARN → [`EMAIL_IDENTITY`].
fn resource_name(item: &str) -> String {
    if item.contains(":ses:") && item.contains(":identity/") {
        return EMAIL_IDENTITY.to_owned();
    }
    // CloudFront: the domains' multi-tenant distribution, and its tenants.
    if item.contains(":cloudfront::") && item.contains(":distribution-tenant/") {
        return "DistributionTenants".to_owned();
    }
    if item.contains(":cloudfront::") && item.contains(":distribution/${DomainsDistribution}") {
        return "DomainsDistribution".to_owned();
    }
    if let Some(attr) = item.strip_prefix("!GetAtt ") {
        return attr.trim_end_matches(".Arn").to_owned();
    }
    if let Some(sub) = item.strip_prefix("!Sub ") {
        return sub.trim_matches('"').replace(".Arn}", "").replace("${", "");
    }
    item.to_owned()
}

/// What is wrong between the policies of `template` and the permissions `used`: each
/// use the policy does not grant, each action and each resource it grants that no use
/// needed. Empty when every policy is exactly what its function's code does.
pub fn check(template: &str, used: &BTreeSet<Use>) -> Vec<String> {
    let policies = policies(template);
    let mut problems = Vec::new();
    for (function, action, resource) in used.iter().filter(|u| u.1 == LEADING_KEY) {
        let Some(policy) = policies.get(function) else { continue };
        if !policy.leading_keys.is_empty() && !policy.leading_keys.iter().any(|p| like(p, resource)) {
            problems
                .push(format!("{function}: its code writes under {resource}, which its {action} condition refuses"));
        }
    }
    for (function, action, resource) in used.iter().filter(|u| u.1 != LEADING_KEY) {
        match policies.get(function) {
            None => problems.push(format!("{function}: no such function in template.yaml")),
            Some(p) if !p.actions.contains(action) || !p.resources.contains(resource) => {
                problems.push(format!(
                    "{function}: its code performs {action} on {resource}, which its policy does not grant"
                ));
            }
            Some(_) => {}
        }
    }
    for (function, policy) in &policies {
        let uses: Vec<&Use> = used.iter().filter(|u| &u.0 == function).collect();
        for action in &policy.actions {
            if !uses.iter().any(|u| &u.1 == action) {
                problems.push(format!("{function}: its policy grants {action}, which its code never performs"));
            }
        }
        for pattern in &policy.leading_keys {
            if !uses.iter().any(|u| u.1 == LEADING_KEY && like(pattern, &u.2)) {
                problems
                    .push(format!("{function}: its policy lets it write under {pattern}, which its code never does"));
            }
        }
        for resource in &policy.resources {
            if !uses.iter().any(|u| &u.2 == resource) {
                problems
                    .push(format!("{function}: its policy grants access to {resource}, which its code never touches"));
            }
        }
    }
    problems
}

/// IAM's `StringLike` for the patterns used here: a trailing `*` matches any rest.
fn like(pattern: &str, prefix: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(start) => prefix.starts_with(start),
        None => pattern == prefix,
    }
}
