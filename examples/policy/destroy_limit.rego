# At most `max_destroys` node pools destroyed by one apply: a larger teardown is split into
# several reviewed plans (or the limit raised here, in review).
package main

import rego.v1

max_destroys := 3

destroyed := [rc.address |
	some rc in input.resource_changes
	"delete" in rc.actions
]

destroy_denies := [{"msg": msg, "address": null} |
	count(destroyed) > max_destroys
	msg := concat("", [
		"this plan destroys ", format_int(count(destroyed), 10), " node pools, more than ",
		format_int(max_destroys, 10), " in one apply: ", concat(", ", destroyed),
	])
]

deny contains d if some d in destroy_denies
