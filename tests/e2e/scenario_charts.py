"""The charts of the E2E charts file: each scenario owns its chart(s), so scenarios never share data."""

from __future__ import annotations

from musiccharts_stack.e2e import E2EChart

#: The catchup needs at least 8 missing periods per chart.
DAILY = E2EChart("global-28", "spotify", "GLOBAL", "daily", periods=8)
WEEKLY = E2EChart("global-weekly-28", "spotify", "GLOBAL", "weekly", periods=8)
WORKER_KILL = E2EChart("us-28", "spotify", "US", "daily", periods=6)
RATE_LIMIT = E2EChart("gb-28", "spotify", "GB", "daily", periods=6)
RATE_LIMIT_SECOND = E2EChart("fr-28", "spotify", "FR", "daily", periods=6)
RESTARTS = E2EChart("de-28", "spotify", "DE", "daily", periods=6)
SUPERVISED_KILLS = E2EChart("it-28", "spotify", "IT", "daily", periods=6)
E2E_CHARTS = [DAILY, WEEKLY, WORKER_KILL, RATE_LIMIT, RATE_LIMIT_SECOND, RESTARTS, SUPERVISED_KILLS]
