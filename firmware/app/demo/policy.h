/* DEMO_EXIT_AFTER, the demo's exit policy. */
#ifndef DEMO_POLICY_H
#define DEMO_POLICY_H

typedef struct {
    int forever, need_led, need_ota;
    long telemetry;
} policy_t;

/* "0" (or "") runs forever; otherwise a comma-separated list of
 * "telemetry:<n>" (n confirmed telemetry messages), "led" (a LED command
 * acknowledged), "ota" (an OTA image downloaded and verified). Anything else:
 * `STEP config fail bad DEMO_EXIT_AFTER` and exit EXIT_CONFIG. */
policy_t parse_policy(const char *spec);

#endif
