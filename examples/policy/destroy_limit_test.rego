package main

import rego.v1

changes(n, action) := [rc |
	some i in numbers.range(1, n)
	rc := {"address": concat("", ["nodepool.p", format_int(i, 10)]), "actions": [action], "after": null}
]

test_three_destroys_pass if {
	destroy_denies == [] with input.resource_changes as changes(3, "delete")
}

test_four_destroys_are_denied if {
	got := destroy_denies with input.resource_changes as changes(4, "delete")
	count(got) == 1
	d := got[0]
	d.msg == "this plan destroys 4 node pools, more than 3 in one apply: nodepool.p1, nodepool.p2, nodepool.p3, nodepool.p4"
	d in deny with input.resource_changes as changes(4, "delete")
}

test_updates_do_not_count if {
	destroy_denies == [] with input.resource_changes as changes(10, "update")
}
