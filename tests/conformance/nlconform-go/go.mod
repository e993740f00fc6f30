module nlconform

go 1.19
