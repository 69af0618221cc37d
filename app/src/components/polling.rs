use std::time::Duration;

use leptos::prelude::*;

/// Runs `tick` now (if `immediately`) and then every `period` while the calling component is
/// mounted. Effects run only in the browser, so the server never starts the timer.
pub fn every(period: Duration, immediately: bool, tick: impl Fn() + Clone + 'static) {
    Effect::new(move |_| {
        if immediately {
            tick();
        }
        let timer = set_interval_with_handle(tick.clone(), period).ok();
        on_cleanup(move || {
            if let Some(timer) = timer {
                timer.clear();
            }
        });
    });
}
