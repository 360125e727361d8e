# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection's inventory plugins do with a source they cannot read (plugins/inventory/*.py)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  on_error:
    description:
      - What a source that cannot be read (a wrong key, the server down or answering an error) does.
      - V(fail) fails the source with the reason. Ansible turns a failed source into a warning unless
        C(any_unparsed_is_failed) is set (C([inventory]) in C(ansible.cfg), or
        E(ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED)); this repository's C(ansible.cfg) sets it, so the run
        stops instead of going on with no hosts. Set it wherever the plugin is used.
      - V(empty) warns and goes on with no hosts from this source (and caches nothing).
    type: str
    choices: [fail, empty]
    default: fail
notes:
  - Enable the plugin by name in C(enable_plugins), not through C(ansible.builtin.auto), which would try the
    same source a second time (and ask the server again) after this plugin failed.
"""
