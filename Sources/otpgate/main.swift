print("otpgate")
