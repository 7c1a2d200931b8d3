package console

func init() {
	addMessages(map[string]message{
		"dash.byagency": {"Theo cơ quan thu (30 ngày làm việc gần nhất, GMT+7)", "By collecting agency (last 30 business days, GMT+7)"},
		"dash.agency":   {"Cơ quan", "Agency"},
	})
}
