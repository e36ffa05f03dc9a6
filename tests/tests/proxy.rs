//! The fault proxy of the harness (`deploy/local/aws_proxy.py`): once a test routes
//! through it, bosun's calls go through it; its faults reach bosun in a shape the SDK
//! recognises (retried, then reported); and with no faults it changes nothing.

use bosun_tests::proxy::Faults;
use bosun_tests::{Env, Stackfile};

#[tokio::test]
async fn routed_calls_go_through_the_proxy_and_its_faults_reach_bosun() {
    let env = Env::start().await;
    let demo = Stackfile::example("demo.yml");
    let proxy = env.proxy(Faults::rate(1.0).kinds(&["throttle"]).services(&["ecs"])).await;

    // Not routed yet: bosun talks to the emulator directly.
    env.plan(&demo, &[]).await.expect_code(2);
    assert_eq!(proxy.stats().await.requests, 0, "nothing went through the proxy before route_through");

    // Every ECS call is throttled: the SDK retries it (5 attempts), then bosun reports
    // the throttling and exits 1 or 3.
    env.route_through(&proxy);
    let throttled = env.plan(&demo, &[]).await;
    assert!(matches!(throttled.code, 1 | 3), "a plan with every ECS call throttled must fail: {throttled}");
    assert!(throttled.stderr.contains("Throttling"), "the error names the throttling: {throttled}");
    let stats = proxy.stats().await;
    let throttles = stats.faults.get("throttle").copied().unwrap_or(0);
    assert!(throttles >= 5, "the SDK retried the throttled call: {stats:?}");
    assert_eq!(stats.total_faults(), throttles, "only throttling was injected: {stats:?}");
    assert!(stats.faulted_operations.keys().all(|op| op.starts_with("ecs:")), "only ECS was faulted: {stats:?}");

    // No faults: the same plan goes through the proxy unchanged.
    proxy.set_faults(Faults::none()).await;
    proxy.reset().await;
    env.plan(&demo, &[]).await.expect_code(2);
    let stats = proxy.stats().await;
    assert!(stats.operations.contains_key("ecs:DescribeClusters"), "the plan's reads went through: {stats:?}");
    assert_eq!(stats.total_faults(), 0, "{stats:?}");
}
