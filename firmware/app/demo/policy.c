/* The demo's exit policy (see policy.h). */
#include "policy.h"

#include <string.h>

#include "console.h"

policy_t parse_policy(const char *spec)
{
    policy_t policy = {0, 0, 0, 0};
    policy.forever = strcmp(spec, "0") == 0 || spec[0] == '\0';
    while (!policy.forever && *spec) {
        size_t n = strcspn(spec, ",");
        if (n == 3 && memcmp(spec, "led", 3) == 0) {
            policy.need_led = 1;
        } else if (n == 3 && memcmp(spec, "ota", 3) == 0) {
            policy.need_ota = 1;
        } else if (n > 10 && memcmp(spec, "telemetry:", 10) == 0) {
            policy.telemetry = 0;
            for (size_t i = 10; i < n; i++) {
                if (spec[i] < '0' || spec[i] > '9')
                    fail("config", "bad DEMO_EXIT_AFTER", EXIT_CONFIG);
                policy.telemetry = policy.telemetry * 10 + (spec[i] - '0');
            }
        } else {
            fail("config", "bad DEMO_EXIT_AFTER", EXIT_CONFIG);
        }
        spec += n + (spec[n] == ',');
    }
    return policy;
}
