print("flavourctl")
