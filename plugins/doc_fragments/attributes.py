# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The descriptions of the attributes every module of cdn.infra documents; the modules say their support."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description:
      Can run in check_mode and return changed status prediction without modifying the target.
  diff_mode:
    description:
      Will return details on what has changed (or possibly needs changing in check_mode), when in diff
      mode.
"""

    # A module that only reads: full check mode support, and no diff to show.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    description: The module changes nothing, so it runs the same in check mode.
    support: full
  diff_mode:
    description: The module changes nothing, so there is no diff.
    support: none
"""
