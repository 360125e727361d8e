"""The panel role's templates, rendered by Ansible with the role's defaults: the configuration is one
that `cdn-panel check-config` accepts and that points where the role writes its secrets, and nginx
accepts the TLS site (`nginx -t` with a certificate made here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support import require_binary

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "panel"


PLAY = """
- name: Render the panel role's templates
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files: ["{role}/defaults/main.yml"]  # the inputs below come as extra vars, which win over these
  tasks:
    - name: The secrets, where the configuration says
      ansible.builtin.copy: {{content: "{secret}", dest: "{out}/{{{{ item }}}}", mode: "0600"}}
      loop: [session-key, mysql.password]
    - name: The configuration, validated as the role does
      ansible.builtin.template:
        src: "{role}/templates/panel.yml.j2"
        dest: "{out}/panel.yml"
        mode: "0600"
        validate: "{cli} check-config --config %s"
    - name: The unit
      ansible.builtin.template:
        {{src: "{role}/templates/cdn-panel.service.j2", dest: "{out}/unit", mode: "0600"}}
    - name: The nginx site
      ansible.builtin.template:
        {{src: "{role}/templates/nginx-site.conf.j2", dest: "{out}/site.conf", mode: "0600"}}
"""


def _render(tmp_path: Path) -> None:
    cli = REPO / ".venv" / "bin" / "cdn-panel"
    inputs = {
        "ansible_python_interpreter": sys.executable, "panel_secret_key": "s" * 40,
        "panel_mysql_password": "pw", "panel_config_dir": str(tmp_path), "panel_listen": "127.0.0.1:18400",
        "panel_nginx_listen_port": 18443,
    }  # fmt: skip
    (tmp_path / "play.yml").write_text(PLAY.format(role=ROLE, out=tmp_path, secret="s" * 40, cli=cli))
    ran = subprocess.run(
        [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", str(tmp_path / "play.yml"),
         "-e", json.dumps(inputs)],
        capture_output=True, text=True, timeout=180, cwd=REPO,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]


def test_the_role_renders_a_valid_configuration_unit_and_site(tmp_path: Path):
    _render(tmp_path)
    config = yaml.safe_load((tmp_path / "panel.yml").read_text())
    assert config["cookie_secure"] is True and config["listen"] == "127.0.0.1:18400"
    assert config["secret_key_file"] == f"{tmp_path}/session-key"
    assert config["mysql"]["password_file"] == f"{tmp_path}/mysql.password"
    unit = (tmp_path / "unit").read_text()
    assert (
        "ExecStart=/opt/cdn-panel/venv/bin/cdn-panel serve --config" in unit
        and "ProtectSystem=strict" in unit
    )
    # nginx accepts the site, with a certificate where the role's lab certificate goes
    (tmp_path / "tls").mkdir()
    subprocess.run(
        [require_binary("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-subj", "/CN=panel.test", "-days", "1", "-keyout", str(tmp_path / "tls" / "panel.key"),
         "-out", str(tmp_path / "tls" / "panel.crt")],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ access_log off; include {tmp_path}/site.conf; }}\n"
    )
    nginx = "/usr/sbin/nginx"
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
