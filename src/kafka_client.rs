//! Kafka client settings, one place for the source (consumers) and the sinks
//! (producer, admin client): the brokers, then `kafka.options`.

use crate::config::KafkaConfig;
use rdkafka::config::ClientConfig;

/// Client settings shared by consumer, producer and admin client.
pub fn client_config(k: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.brokers);
    with_options(&mut c, k);
    c
}

/// Applies `kafka.options` last, so they can tune complaintflow's defaults
/// (the keys it must own are refused when the config is loaded).
pub fn with_options<'a>(c: &'a mut ClientConfig, k: &KafkaConfig) -> &'a mut ClientConfig {
    for (key, value) in &k.options {
        c.set(key, value);
    }
    c
}
