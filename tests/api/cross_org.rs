//! Cross-organization isolation, generated from the route table: every route that takes
//! an id answers another organization's id exactly as it answers a random one.

use livestatus_shared::domain::Plan;
use livestatus_shared::routes::ROUTES;
use livestatus_tests::TestApp;
use livestatus_tests::seed::valid_body;

#[tokio::test]
async fn every_route_with_another_orgs_id_answers_404_exactly_like_a_random_id() {
    let app = TestApp::all().await;
    let seeded = app.seed(None).await;
    let (page, service, incident) = (seeded.id("pageId"), seeded.id("serviceId"), seeded.id("incidentId"));
    let (_, intruder) = app.new_org(Plan::Business).await;
    let random = |path: &str| {
        let mut filled = path.to_owned();
        while let (Some(open), Some(close)) = (filled.find('{'), filled.find('}')) {
            filled.replace_range(open..=close, &uuid::Uuid::now_v7().to_string());
        }
        filled
    };

    let mut checked = 0;
    // Keyed routes; the public pages have their own privacy test (status_pages).
    for route in ROUTES.iter().filter(|r| r.path.contains('{') && r.scope.is_some()) {
        let theirs = seeded.fill(route.path);
        assert!(!theirs.contains('{'), "no fixture for {}", route.path);
        let random = random(route.path);
        let body = valid_body(route.method, route.path);

        if checked % 20 == 19 {
            // Two requests a route: stay under the intruder key's 60 a minute.
            app.next_window();
        }
        let foreign = app.call_as(&intruder, route.method, &theirs, body.clone()).await;
        let missing = app.call_as(&intruder, route.method, &random, body).await;

        foreign.expect_error(404, "not_found");
        missing.expect_error(404, "not_found");
        assert_eq!(
            foreign.json["error"]["message"], missing.json["error"]["message"],
            "{} {}",
            route.method, route.path
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} routes checked");

    // Nothing of the owner's changed.
    app.next_window();
    assert_eq!(
        app.call("GET", &format!("/api/v1/services/{service}"), None).await.json["data"]["currentStatus"],
        "operational"
    );
    assert_eq!(
        app.call("GET", &format!("/api/v1/incidents/{incident}"), None).await.json["data"]["updates"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.call("GET", &format!("/api/v1/pages/{page}"), None).await.expect(200);
}
