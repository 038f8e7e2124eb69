//! Least privilege, proven by the tests: the checker itself, and (run by `infra/test.sh`
//! after the rest of the suite has recorded its calls) every function's policy against
//! what its code did.

use std::collections::BTreeSet;

use livestatus_tests::policy::{self, Use};

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).expect("template.yaml")
}

/// Uses that match the template's policies exactly: each action on each resource.
fn exactly_the_policies(template: &str) -> BTreeSet<Use> {
    let mut used = BTreeSet::new();
    for (function, p) in policy::policies(template) {
        for action in &p.actions {
            for resource in &p.resources {
                used.insert((function.clone(), action.clone(), resource.clone()));
            }
        }
        for pattern in &p.leading_keys {
            used.insert((function.clone(), policy::LEADING_KEY.to_owned(), pattern.trim_end_matches('*').to_owned()));
        }
    }
    used
}

/// `template` with `line` removed from (or `added` put after it in) `function`'s block.
fn edit(template: &str, function: &str, line: &str, added: Option<&str>) -> String {
    let start = template.find(&format!("Binary: {function}\n")).expect("the function is in the template");
    let at = start + template[start..].find(line).expect("the line is in the function's block");
    let end = at + template[at..].find('\n').unwrap() + 1;
    match added {
        None => format!("{}{}", &template[..at], &template[end..]),
        Some(new) => {
            let indent = &template[template[..at].rfind('\n').unwrap() + 1..at];
            format!("{}{indent}{new}\n{}", &template[..end], &template[end..])
        }
    }
}

#[test]
fn the_checker_reads_every_functions_policy_from_the_template() {
    let policies = policy::policies(&template());

    assert_eq!(
        policies.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "incidents",
            "keys",
            "maintenances",
            "monitor-worker",
            "monitors",
            "notifications",
            "notifier",
            "og-ad",
            "pages",
            "scheduler",
            "services",
            "status"
        ]
    );
    assert!(policies["og-ad"].actions.is_empty(), "the generator touches no AWS service");
    assert_eq!(
        policies["status"].actions.iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "dynamodb:ConditionCheckItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem"
        ],
        "the public pages read; their subscription links write subscribers, and never delete"
    );
    assert_eq!(policies["status"].leading_keys, ["ORG#*", "SIGNUPS#*"].map(String::from).into());
    assert_eq!(
        policies["notifier"].resources,
        ["EmailIdentity", "Table", "Table/index/gsi1", "Table/index/gsi2"].map(String::from).into()
    );
    assert!(policies["notifier"].actions.contains("ses:SendEmail"));
    assert!(policies["incidents"].resources.contains("Table/index/gsi2"));
    assert!(policies["pages"].actions.contains("dynamodb:BatchWriteItem"));
}

#[test]
fn the_checker_accepts_policies_that_grant_exactly_what_was_used() {
    let template = template();
    assert_eq!(policy::check(&template, &exactly_the_policies(&template)), Vec::<String>::new());
}

#[test]
fn the_checker_fails_when_a_permission_the_code_uses_is_removed_from_a_policy() {
    let template = template();
    let used = exactly_the_policies(&template);

    let narrowed = edit(&template, "pages", "- dynamodb:BatchWriteItem", None);
    let without_index = edit(&template, "incidents", "- !Sub \"${Table.Arn}/index/gsi2\"", None);

    assert_eq!(
        policy::check(&narrowed, &used),
        ["pages: its code performs dynamodb:BatchWriteItem on Table, which its policy does not grant"]
    );
    assert_eq!(
        policy::check(&without_index, &used)
            .iter()
            .filter(|p| p.contains("Table/index/gsi2") && p.contains("does not grant"))
            .count(),
        policy::policies(&template)["incidents"].actions.len(),
    );
}

#[test]
fn the_checker_fails_when_a_policy_grants_a_permission_the_code_never_uses() {
    let template = template();
    let used = exactly_the_policies(&template);

    let widened = edit(&template, "keys", "- dynamodb:GetItem", Some("- dynamodb:Scan"));

    assert_eq!(
        policy::check(&widened, &used),
        ["keys: its policy grants dynamodb:Scan, which its code never performs"]
    );
}

#[test]
fn a_transaction_needs_the_permission_of_each_of_its_items_and_a_query_of_an_index_the_index() {
    let tx = br#"{"TransactItems":[{"ConditionCheck":{"TableName":"t"}},{"Put":{"TableName":"t"}},{"Delete":{"TableName":"t"}}]}"#;
    let perms: BTreeSet<_> = policy::permissions("TransactWriteItems", tx).into_iter().map(|p| p.0).collect();
    assert_eq!(
        perms.into_iter().collect::<Vec<_>>(),
        ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:PutItem"]
    );
    assert_eq!(
        policy::permissions("Query", br#"{"TableName":"t","IndexName":"gsi2"}"#),
        [("dynamodb:Query".to_owned(), "Table/index/gsi2".to_owned())]
    );
}

#[test]
fn a_write_outside_the_partitions_a_policy_allows_fails_the_check_and_so_does_an_unused_one() {
    let template = template();
    let mut used = exactly_the_policies(&template);
    let tx = br#"{"TransactItems":[{"Put":{"Item":{"pk":{"S":"APIKEY#abc"},"sk":{"S":"KEY"}}}},{"Update":{"Key":{"pk":{"S":"ORG#1"},"sk":{"S":"PAGE#2"}}}}]}"#;
    let written: BTreeSet<_> =
        policy::permissions("TransactWriteItems", tx).into_iter().filter(|p| p.0 == policy::LEADING_KEY).collect();
    assert_eq!(
        written.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(),
        ["APIKEY#", "ORG#"],
        "each write names the prefix of its partition"
    );
    for (action, resource) in written {
        used.insert(("status".to_owned(), action, resource));
    }
    assert_eq!(
        policy::check(&template, &used),
        ["status: its code writes under APIKEY#, which its dynamodb:LeadingKeys condition refuses"]
    );
    used.remove(&("status".to_owned(), policy::LEADING_KEY.to_owned(), "APIKEY#".to_owned()));
    used.remove(&("status".to_owned(), policy::LEADING_KEY.to_owned(), "SIGNUPS#".to_owned()));
    assert_eq!(
        policy::check(&template, &used),
        ["status: its policy lets it write under SIGNUPS#*, which its code never does"]
    );
}

/// Needs the calls the rest of the suite recorded: `infra/test.sh` runs it afterwards.
#[test]
#[ignore = "run by infra/test.sh after the suite has recorded its AWS calls"]
fn every_functions_policy_grants_exactly_what_its_code_did_during_the_suite() {
    let path = std::env::var(policy::LOG_VAR).expect("AWS_CALL_LOG names the suite's call log");
    let used = policy::read_log(&std::fs::read_to_string(&path).expect("the suite recorded its calls"));
    let functions: BTreeSet<&str> = used.iter().map(|u| u.0.as_str()).collect();
    assert_eq!(
        functions.into_iter().collect::<Vec<_>>(),
        [
            "incidents",
            "keys",
            "maintenances",
            "monitor-worker",
            "monitors",
            "notifications",
            "notifier",
            "pages",
            "scheduler",
            "services",
            "status"
        ]
    );

    let problems = policy::check(&template(), &used);

    assert!(problems.is_empty(), "template.yaml's policies differ from what the code did:\n{}", problems.join("\n"));
}
