# Labels every node pool must carry. A node pool this plan creates or changes is refused
# without them; one the plan leaves alone only gets a warning, so old node pools can be fixed
# one at a time without blocking every other change.
package main

import rego.v1

required_labels := {"team", "cost_center"}

# Node pools that lack one: object.subset first (cheap), the list of what is missing only for
# those. Deleted node pools have no labels to check.
unlabelled := [{"msg": msg, "address": rc.address, "touched": rc.actions[0] != "no-op"} |
	some rc in input.resource_changes
	rc.actions[0] != "delete"
	not object.subset(object.keys(rc.after.labels), required_labels)
	missing := sort([label | some label in required_labels; not rc.after.labels[label]])
	msg := concat("", [rc.address, ": missing required labels: ", concat(", ", missing)])
]

label_denies := [{"msg": u.msg, "address": u.address} | some u in unlabelled; u.touched]

label_warnings := [{"msg": u.msg, "address": u.address} | some u in unlabelled; not u.touched]

deny contains d if some d in label_denies

warn contains w if some w in label_warnings
