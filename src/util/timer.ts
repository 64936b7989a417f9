/** The largest delay setTimeout keeps (2^31 − 1 ms, about 24.8 days); a longer one fires at once with a TimeoutOverflowWarning. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
