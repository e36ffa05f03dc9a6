//! The 1,000-service benchmark stack, shared by the criterion benchmark and the
//! profiling example so both measure the same thing.

/// One third ALB services with Route53 aliases, one third Cloud Map services, one
/// third workers, like the reconcile benchmark's stack.
pub fn stackfile(n: usize) -> String {
    let mut y = String::from(
        "vpc:\n  id: vpc-0a1b2c3d\n  subnets:\n    public: [subnet-0000000a, subnet-0000000b]\n    private: [subnet-0000001a, subnet-0000001b]\n  security_groups:\n    public: [sg-0000000a]\n    private: [sg-0000000b]\nservice_discovery:\n  namespace: bench.sd\ndefaults:\n  memory: 256\n  environment:\n    STAGE: bench\nservices:\n",
    );
    for i in 0..n {
        y.push_str(&format!("  - s{i}:\n      image: public.ecr.aws/x/app:{i}\n      desired_count: 2\n"));
        match i % 3 {
            0 => y.push_str(&format!(
                "      network_mode: bridge\n      ports: [8080]\n      elb:\n        type: public\n        ports: {{public: 80, container: 8080}}\n        dns: {{hosted_zone_id: Z0123456789ABC, record_name: s{i}.example.com}}\n"
            )),
            1 => y.push_str(&format!("      ports: [8080]\n      dns_discovery:\n        name: s{i}\n")),
            _ => {}
        }
    }
    y
}
