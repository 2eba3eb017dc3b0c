"""Notifications through the real service process: at least once across kill -9."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from tests.harness.processes import wait_for
from tests.harness.receivers import HookServer
from tests.harness.service import Service


def test_kill_9_between_sending_and_recording_resends_the_same_message_after_restart(tmp_path, broker):
    reached, answer = threading.Event(), threading.Event()

    def hold_the_first(hit) -> None:
        if hit is server.hits[0]:
            reached.set()
            answer.wait(30)  # the service dies while waiting for this answer

    server = HookServer(before_answer=hold_the_first)
    config = tmp_path / "config.yaml"
    config.write_text(f"""\
notify:
  receivers:
    - name: phones
      webhook: {{url: "{server.url}", format: json, secret: s3cret}}
  routes:
    - receiver: phones
      group_wait: 0s
""", encoding="utf-8")
    service = Service(tmp_path, broker, extra_env={"MONITOR_CONFIG": str(config)}).start()
    try:
        seated = datetime.now(timezone.utc) - timedelta(seconds=150)  # learned after its deadline: breach at once
        response = service.api("POST", "/events", json={"id": "s1", "case": "t1", "type": "seated", "site": "bj-01",
                                                        "at": seated.isoformat()})
        assert response.status_code == 202, response.text
        assert reached.wait(15), f"no message reached the receiver (log: {service.log})"
        service.kill()  # sent, not yet recorded
        answer.set()
        service.start()
        wait_for(lambda: len(server.hits) >= 2, timeout=20, message="the message sent again after the restart")
        first, again = server.hits[:2]
        assert first.json["id"] == again.json["id"]
        assert again.json["alerts"] == first.json["alerts"]
        item = wait_for(lambda: next((i for i in service.api("GET", "/notifications").json()["items"]
                                      if i["state"] == "delivered"), None), timeout=10)
        assert (item["id"], item["attempts"]) == (first.json["id"], 2)
        assert len(server.hits) == 2  # delivered: not sent a third time
    finally:
        answer.set()
        service.stop()
        server.close()
